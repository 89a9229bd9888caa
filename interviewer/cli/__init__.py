"""The command line: one module per part of the product (knowledge, grading, interview, evals, doctor)."""
