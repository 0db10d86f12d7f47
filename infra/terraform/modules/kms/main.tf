# One customer-managed key per environment encrypts everything at rest: S3 (SSE-KMS with bucket
# keys), the Delta lock table, MSK storage, EBS volumes, Secrets Manager secrets and log groups.
# The key policy delegates to IAM (the account root statement), so each role's own policy says
# which key operations it may use; CloudWatch Logs gets a statement of its own because it is
# not an IAM principal of the account.

resource "aws_kms_key" "this" {
  description             = "${var.name_prefix}: encryption at rest of the RWA lakehouse"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_window_in_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${var.partition}:iam::${var.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.aws_region}.amazonaws.com" }
        Action = [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ]
        Resource = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${var.partition}:logs:${var.aws_region}:${var.account_id}:log-group:*"
          }
        }
      },
    ]
  })

  tags = {
    Name = "${var.name_prefix}-data"
  }
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}-data"
  target_key_id = aws_kms_key.this.key_id
}
