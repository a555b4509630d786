"""Benchmark of Repertoire against a bare-aiohttp floor; run ``python -m bench``."""
