"""pouchd's start-up and shutdown order, its flags and config file; nothing else."""
