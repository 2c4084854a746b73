"""Exports: a query's or a table's rows written to a file as CSV, JSON, XLSX or Parquet.

``formats`` names the formats and files; ``source`` describes what to export and writes the
SQL that reads it as the caller; one module per writer; ``write.export`` picks the writer.
"""
