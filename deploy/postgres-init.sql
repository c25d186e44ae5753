-- The MLflow backend store lives next to the Dagster database on the same server.
CREATE DATABASE mlflow;
