# Values a real AWS account would compute (ids, ARNs), shared by every test file through
# `mock_provider "aws" { source = "./tests/mocks" }`. The provider validates arguments even under
# mocks, so ARNs and ids must have a valid shape. Unlisted computed attributes get random values.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition = "aws"
  }
}

mock_data "aws_availability_zones" {
  defaults = {
    names = ["us-east-1a", "us-east-1b", "us-east-1c"]
  }
}

mock_data "aws_subnet" {
  defaults = {
    availability_zone = "us-east-1a"
  }
}

mock_data "aws_ssm_parameter" {
  defaults = {
    insecure_value = "ami-0123456789abcdef0"
  }
}

mock_data "aws_ec2_instance_type" {
  defaults = {
    supported_architectures = ["arm64"]
  }
}

mock_resource "aws_msk_cluster" {
  defaults = {
    arn                        = "arn:aws:kafka:us-east-1:123456789012:cluster/rwa-test-kafka/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0-1"
    bootstrap_brokers_sasl_iam = "b-1.rwa.kafka.us-east-1.amazonaws.com:9098,b-2.rwa.kafka.us-east-1.amazonaws.com:9098"
  }
}

# The provider validates ARNs even under mocks: give every referenced ARN a valid shape.
mock_resource "aws_kms_key" {
  defaults = {
    arn    = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    key_id = "11111111-2222-3333-4444-555555555555"
  }
}

mock_resource "aws_msk_configuration" {
  defaults = {
    arn             = "arn:aws:kafka:us-east-1:123456789012:configuration/rwa-test-kafka/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0-1"
    latest_revision = 1
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mocked-role"
  }
}

mock_resource "aws_iam_instance_profile" {
  defaults = {
    arn = "arn:aws:iam::123456789012:instance-profile/mocked-profile"
  }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = {
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mocked-secret-AbCdEf"
  }
}

mock_resource "aws_dynamodb_table" {
  defaults = {
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/mocked-table"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:mocked"
  }
}

mock_resource "aws_launch_template" {
  defaults = {
    id             = "lt-0123456789abcdef0"
    latest_version = 1
  }
}

mock_resource "aws_instance" {
  defaults = {
    id         = "i-0123456789abcdef0"
    private_ip = "10.40.0.10"
  }
}

mock_resource "aws_ebs_volume" {
  defaults = {
    id = "vol-0123456789abcdef0"
  }
}

mock_resource "aws_s3_bucket" {
  defaults = {
    arn = "arn:aws:s3:::mocked-bucket"
  }
}
