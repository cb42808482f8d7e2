"""Parts of benchmarks/scaling.py, also used by tests/scaling: a local Ray cluster
(``ray_cluster``) and a plugin evaluator whose children take a set time (``timed_tasks``)."""
