-- The warehouse is its own database beside Airflow's metadata database.
create database warehouse owner airflow;
