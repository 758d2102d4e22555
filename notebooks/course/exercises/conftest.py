# The student notebooks stop at every exercise (raise NotImplementedError) by design: nbval
# runs the solution notebooks in ../solutions/ instead.
collect_ignore_glob = ["*.ipynb"]
