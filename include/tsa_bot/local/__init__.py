"""The local runner: the ``tsabot`` command, Airflow and the embedded warehouse on one machine, reports."""
