output "instance_id" {
  description = "Id of the TimescaleDB host (connect with: aws ssm start-session --target <id>)."
  value       = aws_instance.this.id
}

output "private_ip" {
  description = "Private IPv4 address of the TimescaleDB host."
  value       = aws_instance.this.private_ip
}

output "data_volume_id" {
  description = "Id of the encrypted EBS data volume."
  value       = aws_ebs_volume.data.id
}

output "host_role_arn" {
  description = "ARN of the host's instance role."
  value       = aws_iam_role.host.arn
}

output "launch_template_id" {
  description = "Id of the launch template of the host."
  value       = aws_launch_template.this.id
}
