# Secrets Manager secrets, all encrypted with the environment's KMS key.
#
# Source API keys: created empty. An operator puts each value once, e.g.
#   aws secretsmanager put-secret-value --secret-id <arn> --secret-string "$COINGECKO_KEY"
# so that no key ever passes through Terraform code or state.
#
# TimescaleDB DSN: a plain libpq URL (SecretString = the value of RWA_TIMESCALE_DSN). In ec2 mode
# the TimescaleDB host generates its password and writes the DSN at first boot; in external mode
# Terraform writes the DSN given in timescale_external_dsn.

resource "aws_secretsmanager_secret" "source_api_key" {
  for_each = toset(var.source_api_keys)

  name                    = "${var.name_prefix}/source/${each.key}/api-key"
  description             = "API key of the ${each.key} data source (value put by an operator, not Terraform)."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = {
    Name      = "${var.name_prefix}/source/${each.key}/api-key"
    Component = "ingestion"
  }
}

resource "aws_secretsmanager_secret" "timescale_dsn" {
  name                    = "${var.name_prefix}/timescale/dsn"
  description             = "libpq DSN of the TimescaleDB serving store (RWA_TIMESCALE_DSN)."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = {
    Name      = "${var.name_prefix}/timescale/dsn"
    Component = "serving"
  }
}

resource "aws_secretsmanager_secret_version" "timescale_dsn" {
  count = var.manage_dsn_value ? 1 : 0

  secret_id     = aws_secretsmanager_secret.timescale_dsn.id
  secret_string = var.timescale_external_dsn
}
