"""Training candidate networks for real: the sandboxed child (sandbox.py, trainer.py), the data
(datasets.py), where trainings run (executors.py) and one training job with its saved report
(jobs.py).  Spaces that train (spaces/torch_code.py) and the `train_on_gpu` tool use it; it
imports neither.  Nothing here vets code: callers pass code that spaces/torch_code.py accepted."""
