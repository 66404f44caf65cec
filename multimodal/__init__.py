"""eduplatform's model package: encoders, fusion, training and the model registry.

Plain Python (no Django). Workers and management commands import it; the web
process never does, because importing torch costs seconds and ~1 GB.
"""
