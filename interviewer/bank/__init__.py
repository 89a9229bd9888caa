"""The question bank as data and where it is found by meaning: bank (load and check), chunking, embeddings, store."""
