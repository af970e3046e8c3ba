"""What the workflow runs before any job (imported by the Snakefile's rules): the grid, the config
check, resources, code digests and the job environment. Torch-free by rule."""
