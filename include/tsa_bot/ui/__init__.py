"""The project's page in the Airflow UI: read-only queries, SVG charts, the HTML page and the FastAPI app."""
