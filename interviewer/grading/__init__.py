"""Grading, in the order an answer flows: screen -> evidence -> judge (choices) -> score -> feedback.

`Grader` ties the steps together; `cache` keeps judgements, `keypoints` derives key points for questions that come
without them, `fit` fits the score formulas and a user's scale.
"""

from interviewer.grading.grade import CriterionScore, Grade, KeyPointResult

__all__ = ["Grade", "KeyPointResult", "CriterionScore"]
