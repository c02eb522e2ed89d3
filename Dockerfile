# The Airflow image used by docker-compose.yaml: same DAGs, same package, same pins as the local run.
FROM apache/airflow:3.3.2

COPY requirements.txt /opt/airflow/project/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/airflow/project/requirements.txt

COPY --chown=airflow:root pyproject.toml README.md /opt/airflow/project/
COPY --chown=airflow:root include /opt/airflow/project/include
# Editable, so the include/ folder mounted by docker-compose is the code that runs.
RUN pip install --no-cache-dir --no-deps -e /opt/airflow/project
