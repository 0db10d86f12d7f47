# Offline tests: `terraform test` (Terraform >= 1.11, for override_during) with a mocked AWS
# provider (values in tests/mocks). Nothing is created and no credentials are needed: every run
# is a plan, and the AWS provider still validates every argument it receives.
#
# Cross-variable rules and variable validation of the root module.

mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

variables {
  environment = "test"
}

run "external_timescale_needs_no_host" {
  command = plan

  variables {
    timescale_mode         = "external"
    timescale_external_dsn = "postgresql://tsdbadmin:secret@example.tsdb.cloud.timescale.com:5432/tsdb?sslmode=require"
  }

  assert {
    condition     = output.timescale_instance_id == null
    error_message = "external mode must not create an EC2 host."
  }
}

run "external_timescale_without_dsn_is_refused" {
  command = plan

  variables {
    timescale_mode         = "external"
    timescale_external_dsn = null
  }

  expect_failures = [terraform_data.configuration_guard]
}

run "ec2_timescale_without_egress_is_refused" {
  command = plan

  variables {
    nat_gateway_mode = "none"
  }

  expect_failures = [terraform_data.configuration_guard]
}

run "invalid_variables_are_refused" {
  command = plan

  variables {
    environment          = "Prod_1"
    vpc_cidr             = "10.40.0.1/16"
    allowed_client_cidrs = ["0.0.0.0/0"]
    kafka_version        = "2.8.1"
  }

  expect_failures = [var.environment, var.vpc_cidr, var.allowed_client_cidrs, var.kafka_version]
}
