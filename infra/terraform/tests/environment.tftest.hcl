# Offline tests: `terraform test` (Terraform >= 1.11, for override_during) with a mocked AWS
# provider (values in tests/mocks). Nothing is created and no credentials are needed: every run
# is a plan, and the AWS provider still validates every argument it receives.
#
# The whole configuration with an environment's variables:
#   terraform test -filter=tests/environment.tftest.hcl -var-file=envs/prod.tfvars
# (the environment name itself is fixed to "test" below; every other value comes from the file).

mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

variables {
  environment = "test"
}

# --- The whole configuration ------------------------------------------------------------------

run "root_wires_every_module" {
  command = plan

  assert {
    condition     = startswith(output.rwa_settings.RWA_LAKE_ROOT, "s3://") && endswith(output.rwa_settings.RWA_LAKE_ROOT, "/lake")
    error_message = "RWA_LAKE_ROOT must be s3://<lake bucket>/lake."
  }

  assert {
    condition     = !contains(keys(output.rwa_settings), "RWA_S3_ENDPOINT_URL")
    error_message = "RWA_S3_ENDPOINT_URL must stay unset on AWS."
  }

  assert {
    condition     = output.rwa_settings.RWA_SERVING_BACKEND == "timescaledb"
    error_message = "Production serves from TimescaleDB."
  }

  assert {
    condition     = output.rwa_secret_settings.RWA_TIMESCALE_DSN == output.timescale_dsn_secret_arn
    error_message = "RWA_TIMESCALE_DSN must come from the DSN secret."
  }

  assert {
    condition     = toset(keys(output.source_api_key_secret_arns)) == toset(["coingecko", "fred", "newsapi"])
    error_message = "Every source API key gets a secret."
  }

  assert {
    condition     = toset(keys(output.role_arns)) == toset(["ingestion", "spark", "api"])
    error_message = "Ingestion, Spark and API roles are expected."
  }

  assert {
    condition     = toset(keys(output.kafka_topics)) == toset(["price-data-raw", "onchain-data-raw", "economic-data-raw", "news-sentiment-raw"])
    error_message = "The four raw topics are expected."
  }

  assert {
    condition     = output.timescale_instance_id != null
    error_message = "ec2 mode runs a TimescaleDB host."
  }

  assert {
    condition     = output.delta_rs_environment.AWS_S3_LOCKING_PROVIDER == "dynamodb"
    error_message = "delta-rs needs DynamoDB commit coordination on S3."
  }
}
