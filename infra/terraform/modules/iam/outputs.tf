output "role_arns" {
  description = "ARN of each workload role: ingestion, spark, api."
  value       = { for name, r in aws_iam_role.workload : name => r.arn }
}

output "role_names" {
  description = "Name of each workload role: ingestion, spark, api."
  value       = { for name, r in aws_iam_role.workload : name => r.name }
}

output "instance_profile_names" {
  description = "Instance profile of each workload role (empty unless ec2.amazonaws.com is trusted)."
  value       = { for name, p in aws_iam_instance_profile.workload : name => p.name }
}
