# VPC with private subnets for every stateful service (MSK, TimescaleDB) and the workloads,
# public subnets only to hold NAT gateways, free gateway endpoints for S3 and DynamoDB, optional
# interface endpoints, and the security groups that connect workloads to Kafka and TimescaleDB.
#
# Address plan (vpc_cidr split in eighths): private subnet i = eighth i; public subnets are
# slices of the last eighth. A /16 gives /19 private and /22 public subnets.

data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) >= var.az_count
      error_message = "The region offers fewer available zones than az_count."
    }
  }
}

locals {
  azs           = slice(sort(data.aws_availability_zones.available.names), 0, var.az_count)
  private_cidrs = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, 3, i)]
  public_cidrs  = [for i in range(var.az_count) : cidrsubnet(cidrsubnet(var.vpc_cidr, 3, 7), 3, i)]
  nat_count     = var.nat_gateway_mode == "none" ? 0 : (var.nat_gateway_mode == "single" ? 1 : var.az_count)
  endpoints     = var.enable_interface_endpoints ? toset(var.interface_endpoint_services) : toset([])
}

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = "${var.name_prefix}-vpc"
  }
}

# The default security group allows all traffic between its members; empty it so that nothing
# lands in it by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = {
    Name = "${var.name_prefix}-default-deny"
  }
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.private_cidrs[count.index]
  availability_zone = local.azs[count.index]

  tags = {
    Name = "${var.name_prefix}-private-${local.azs[count.index]}"
    Tier = "private"
  }
}

resource "aws_subnet" "public" {
  count = local.nat_count > 0 ? var.az_count : 0

  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.public_cidrs[count.index]
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "${var.name_prefix}-public-${local.azs[count.index]}"
    Tier = "public"
  }
}

resource "aws_internet_gateway" "this" {
  count = local.nat_count > 0 ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = {
    Name = "${var.name_prefix}-igw"
  }
}

resource "aws_eip" "nat" {
  count = local.nat_count

  domain = "vpc"

  tags = {
    Name = "${var.name_prefix}-nat-${local.azs[count.index]}"
  }

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = {
    Name = "${var.name_prefix}-nat-${local.azs[count.index]}"
  }
}

resource "aws_route_table" "public" {
  count = local.nat_count > 0 ? 1 : 0

  vpc_id = aws_vpc.this.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this[0].id
  }

  tags = {
    Name = "${var.name_prefix}-public"
  }
}

resource "aws_route_table_association" "public" {
  count = length(aws_subnet.public)

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_route_table" "private" {
  count = var.az_count

  vpc_id = aws_vpc.this.id

  dynamic "route" {
    for_each = local.nat_count > 0 ? [1] : []
    content {
      cidr_block     = "0.0.0.0/0"
      nat_gateway_id = aws_nat_gateway.this[min(count.index, local.nat_count - 1)].id
    }
  }

  tags = {
    Name = "${var.name_prefix}-private-${local.azs[count.index]}"
  }
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# --- VPC endpoints ---------------------------------------------------------------------------

# Gateway endpoints cost nothing and keep lake and lock-table traffic off the NAT gateway.
resource "aws_vpc_endpoint" "gateway" {
  for_each = toset(["s3", "dynamodb"])

  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${var.aws_region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id

  tags = {
    Name = "${var.name_prefix}-${each.key}"
  }
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.endpoints

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${var.aws_region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true

  tags = {
    Name = "${var.name_prefix}-${each.key}"
  }
}

# --- Security groups -------------------------------------------------------------------------

resource "aws_security_group" "workloads" {
  name        = "${var.name_prefix}-workloads"
  description = "Ingestion, lander, Spark, Dagster and API workloads: clients of Kafka and TimescaleDB"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name_prefix}-workloads"
  }
}

resource "aws_vpc_security_group_egress_rule" "workloads_all" {
  security_group_id = aws_security_group.workloads.id
  description       = "Workloads call data-source APIs, AWS APIs, Kafka and TimescaleDB"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_security_group" "kafka" {
  name        = "${var.name_prefix}-kafka"
  description = "MSK brokers: TLS with IAM auth (9098) from workloads only"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name_prefix}-kafka"
  }
}

resource "aws_vpc_security_group_ingress_rule" "kafka_from_workloads" {
  security_group_id            = aws_security_group.kafka.id
  description                  = "Kafka over TLS with IAM auth from workloads"
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
  referenced_security_group_id = aws_security_group.workloads.id
}

resource "aws_vpc_security_group_ingress_rule" "kafka_from_cidrs" {
  for_each = toset(var.allowed_client_cidrs)

  security_group_id = aws_security_group.kafka.id
  description       = "Kafka over TLS with IAM auth from an allowed network"
  ip_protocol       = "tcp"
  from_port         = 9098
  to_port           = 9098
  cidr_ipv4         = each.key
}

resource "aws_security_group" "timescale" {
  name        = "${var.name_prefix}-timescale"
  description = "TimescaleDB serving store: PostgreSQL over TLS (5432) from workloads only"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name_prefix}-timescale"
  }
}

resource "aws_vpc_security_group_ingress_rule" "timescale_from_workloads" {
  security_group_id            = aws_security_group.timescale.id
  description                  = "PostgreSQL from workloads"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.workloads.id
}

resource "aws_vpc_security_group_ingress_rule" "timescale_from_cidrs" {
  for_each = toset(var.allowed_client_cidrs)

  security_group_id = aws_security_group.timescale.id
  description       = "PostgreSQL from an allowed network"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = each.key
}

resource "aws_vpc_security_group_egress_rule" "timescale_https" {
  security_group_id = aws_security_group.timescale.id
  description       = "Package repositories, Secrets Manager, SSM"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "timescale_http" {
  security_group_id = aws_security_group.timescale.id
  description       = "Ubuntu package mirrors (signed packages over HTTP)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name_prefix}-endpoints"
  description = "Interface VPC endpoints: HTTPS from inside the VPC"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name_prefix}-endpoints"
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.vpc_cidr
}
