"""Importers that turn outside data (YAML profiles, CRM exports, 10-K filings) into stored accounts."""
