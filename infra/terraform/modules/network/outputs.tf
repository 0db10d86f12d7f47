output "vpc_id" {
  description = "Id of the VPC."
  value       = aws_vpc.this.id
}

output "availability_zones" {
  description = "Zones the subnets are in, in subnet order."
  value       = local.azs
}

output "private_subnet_ids" {
  description = "Ids of the private subnets, one per zone."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Ids of the public (NAT) subnets; empty when nat_gateway_mode is none."
  value       = aws_subnet.public[*].id
}

output "workload_security_group_id" {
  description = "Security group to attach to ingestion, Spark, Dagster and API workloads."
  value       = aws_security_group.workloads.id
}

output "kafka_security_group_id" {
  description = "Security group of the MSK brokers."
  value       = aws_security_group.kafka.id
}

output "timescale_security_group_id" {
  description = "Security group of the TimescaleDB host."
  value       = aws_security_group.timescale.id
}
