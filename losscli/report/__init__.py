"""Rendering results: rich tables and charts for people, JSON/CSV/markdown for scripts."""
