# The lake: one bucket whose <lake_prefix>/bronze, /silver and /gold prefixes are the medallion
# layers (the project addresses every layer below one RWA_LAKE_ROOT), a bucket for Spark
# streaming checkpoints, a bucket for S3 server access logs, and the DynamoDB table that
# delta-rs (AWS_S3_LOCKING_PROVIDER=dynamodb) and delta-spark (S3DynamoDBLogStore) use to make
# concurrent Delta commits on S3 safe. Least privilege per layer is enforced by the IAM roles
# (modules/iam), which are scoped to these prefixes.

locals {
  layer_prefixes = {
    bronze = "${var.lake_prefix}/bronze/"
    silver = "${var.lake_prefix}/silver/"
    gold   = "${var.lake_prefix}/gold/"
  }

  # Bucket names are global: account and region keep them unique (at most 63 characters).
  data_buckets = {
    lake        = "${var.name_prefix}-lake-${var.account_id}-${var.aws_region}"
    checkpoints = "${var.name_prefix}-checkpoints-${var.account_id}-${var.aws_region}"
  }
  logs_bucket = "${var.name_prefix}-s3-logs-${var.account_id}-${var.aws_region}"
}

# --- Data buckets (lake, checkpoints) --------------------------------------------------------

resource "aws_s3_bucket" "data" {
  for_each = local.data_buckets

  bucket        = each.value
  force_destroy = var.force_destroy

  tags = {
    Name      = each.value
    Component = "lake"
  }

  lifecycle {
    precondition {
      condition     = length(each.value) <= 63
      error_message = "Bucket name ${each.value} is longer than 63 characters: shorten project or environment."
    }
  }
}

resource "aws_s3_bucket_ownership_controls" "data" {
  for_each = aws_s3_bucket.data

  bucket = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  for_each = aws_s3_bucket.data

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "data" {
  for_each = aws_s3_bucket.data

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  for_each = aws_s3_bucket.data

  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # S3 Bucket Keys cut KMS requests (and their cost) by orders of magnitude for the many small
    # objects Delta and Spark checkpoints write.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "data" {
  for_each = aws_s3_bucket.data

  bucket        = each.value.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/${each.key}/"

  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_s3_bucket_policy" "data" {
  for_each = aws_s3_bucket.data

  bucket = each.value.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [each.value.arn, "${each.value.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "DenyTlsOlderThan12"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [each.value.arn, "${each.value.arn}/*"]
        Condition = { NumericLessThan = { "s3:TlsVersion" = "1.2" } }
      },
      {
        # Objects may only be written with the bucket default (SSE-KMS) or an explicit aws:kms.
        Sid       = "DenyNonKmsEncryptionHeader"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:PutObject"
        Resource  = "${each.value.arn}/*"
        Condition = {
          StringNotEquals = { "s3:x-amz-server-side-encryption" = "aws:kms" }
          Null            = { "s3:x-amz-server-side-encryption" = "false" }
        }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.data]
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.data["lake"].id

  # Raw envelopes are immutable and rarely re-read after two years: archive them.
  rule {
    id     = "bronze-archive"
    status = "Enabled"

    filter {
      prefix = local.layer_prefixes.bronze
    }

    transition {
      days          = var.bronze_archive_after_days
      storage_class = var.bronze_archive_storage_class
    }
  }

  # Silver and gold are Delta tables that queries read in place: they stay in STANDARD (an
  # archived data file would break reads). Files removed by VACUUM or overwrites become
  # noncurrent versions and expire here.
  rule {
    id     = "housekeeping"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    expiration {
      expired_object_delete_marker = true
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}

resource "aws_s3_bucket_lifecycle_configuration" "checkpoints" {
  bucket = aws_s3_bucket.data["checkpoints"].id

  rule {
    id     = "housekeeping"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.checkpoint_noncurrent_expiration_days
    }

    expiration {
      expired_object_delete_marker = true
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}

# --- Access-log bucket -----------------------------------------------------------------------
# S3 server access logging cannot deliver to an SSE-KMS bucket, so this one uses SSE-S3.

resource "aws_s3_bucket" "logs" {
  bucket        = local.logs_bucket
  force_destroy = var.force_destroy

  tags = {
    Name      = local.logs_bucket
    Component = "audit"
  }

  lifecycle {
    precondition {
      condition     = length(local.logs_bucket) <= 63
      error_message = "Bucket name ${local.logs_bucket} is longer than 63 characters: shorten project or environment."
    }
  }
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "S3ServerAccessLogsFromThisAccount"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.logs.arn}/s3/*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = var.account_id }
          ArnLike      = { "aws:SourceArn" = [for b in aws_s3_bucket.data : b.arn] }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "DenyTlsOlderThan12"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
        Condition = { NumericLessThan = { "s3:TlsVersion" = "1.2" } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.logs]
}

# --- Delta commit coordination ---------------------------------------------------------------
# Schema shared by delta-rs and delta-spark's S3DynamoDBLogStore: tablePath (hash),
# fileName (range), TTL on expireTime.

resource "aws_dynamodb_table" "delta_log" {
  name                        = "${var.name_prefix}-delta-log"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "tablePath"
  range_key                   = "fileName"
  deletion_protection_enabled = !var.force_destroy

  attribute {
    name = "tablePath"
    type = "S"
  }

  attribute {
    name = "fileName"
    type = "S"
  }

  ttl {
    attribute_name = "expireTime"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = {
    Name      = "${var.name_prefix}-delta-log"
    Component = "lake"
  }
}
