output "source_api_key_secret_arns" {
  description = "Secret ARN of each source's API key, by source name."
  value       = { for name, s in aws_secretsmanager_secret.source_api_key : name => s.arn }
}

output "timescale_dsn_secret_arn" {
  description = "ARN of the secret holding the TimescaleDB DSN."
  value       = aws_secretsmanager_secret.timescale_dsn.arn
}

output "timescale_dsn_secret_name" {
  description = "Name of the secret holding the TimescaleDB DSN."
  value       = aws_secretsmanager_secret.timescale_dsn.name
}
