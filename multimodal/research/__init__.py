"""Research and benchmark harnesses: not on the product's path.

The fusion model (attention / concat / weighted fusion of modality tokens) and its
training loop live here because, measured on Mohler, the product grader
(``multimodal.grader``) beats every fusion variant on text, and no dataset with
human scores for spoken or photographed answers exists to show fusion earns its
place there (README, "Benchmarks"). Benchmark commands (``manage.py benchmark_*``)
import these modules; workers never do.
"""
