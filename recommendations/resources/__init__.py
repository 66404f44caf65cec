"""Learning resources: what students learn from, instructors' pins and excludes, and the
text embeddings (transcripts, OCR) that find similar resources."""
