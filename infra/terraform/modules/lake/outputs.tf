output "lake_bucket" {
  description = "Name of the lake bucket."
  value       = aws_s3_bucket.data["lake"].bucket
}

output "lake_bucket_arn" {
  description = "ARN of the lake bucket."
  value       = aws_s3_bucket.data["lake"].arn
}

output "lake_root" {
  description = "Root URI of the lake: the value of RWA_LAKE_ROOT."
  value       = "s3://${aws_s3_bucket.data["lake"].bucket}/${var.lake_prefix}"
}

output "layer_prefixes" {
  description = "Key prefix (with trailing slash) of each medallion layer in the lake bucket."
  value       = local.layer_prefixes
}

output "checkpoint_bucket" {
  description = "Name of the Spark streaming checkpoints bucket."
  value       = aws_s3_bucket.data["checkpoints"].bucket
}

output "checkpoint_bucket_arn" {
  description = "ARN of the Spark streaming checkpoints bucket."
  value       = aws_s3_bucket.data["checkpoints"].arn
}

output "access_logs_bucket" {
  description = "Name of the bucket receiving S3 server access logs of the lake and checkpoints buckets."
  value       = aws_s3_bucket.logs.bucket
}

output "delta_lock_table" {
  description = "Name of the DynamoDB table coordinating Delta commits on S3."
  value       = aws_dynamodb_table.delta_log.name
}

output "delta_lock_table_arn" {
  description = "ARN of the DynamoDB table coordinating Delta commits on S3."
  value       = aws_dynamodb_table.delta_log.arn
}
