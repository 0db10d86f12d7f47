variable "name_prefix" {
  description = "Prefix of resource names, <project>-<environment>."
  type        = string
}

variable "account_id" {
  description = "AWS account id; part of the globally unique bucket names."
  type        = string
}

variable "aws_region" {
  description = "Region of the buckets; part of the globally unique bucket names."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS of the lake and checkpoint buckets and the Delta lock table."
  type        = string
}

variable "lake_prefix" {
  description = "Key prefix of the lake in the lake bucket (RWA_LAKE_ROOT = s3://<bucket>/<lake_prefix>)."
  type        = string
}

variable "bronze_archive_after_days" {
  description = "Age in days after which bronze objects move to bronze_archive_storage_class."
  type        = number
}

variable "bronze_archive_storage_class" {
  description = "GLACIER, GLACIER_IR or DEEP_ARCHIVE."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "Days noncurrent versions in the lake bucket are kept."
  type        = number
}

variable "checkpoint_noncurrent_expiration_days" {
  description = "Days noncurrent versions in the checkpoints bucket are kept."
  type        = number
}

variable "access_log_retention_days" {
  description = "Days S3 server access logs are kept."
  type        = number
}

variable "force_destroy" {
  description = "Allow destroying non-empty buckets and the lock table (dev only)."
  type        = bool
}
