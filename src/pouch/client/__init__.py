"""A thin HTTP client for pouchd's API over a unix socket (standard library only).

Never imports daemon code, and imports nothing heavy at module load: the CLI starts
in tens of milliseconds.
"""
