"""Market-data ingest: CSV import and exchange ingest through ccxt, into the seed's tables."""
