# Self-managed TimescaleDB serving store (Amazon RDS does not offer the timescaledb extension).
#
# - EC2 host from a launch template: Ubuntu 24.04, IMDSv2 only, no public address, no SSH key
#   (shell access through SSM Session Manager), encrypted root volume.
# - A separate encrypted gp3 data volume mounted at /var/lib/postgresql: replacing the host
#   (new AMI, new size) keeps the data; the new host adopts the existing cluster.
# - user_data installs PostgreSQL + TimescaleDB from the PGDG and Timescale repositories,
#   enables TLS and SCRAM, creates the database with the timescaledb extension, generates the
#   login password on the host and writes the DSN to Secrets Manager (it never enters state).
# - Daily EBS snapshots of the data volume through Data Lifecycle Manager.

locals {
  name             = "${var.name_prefix}-timescale"
  ami_architecture = var.architecture == "arm64" ? "arm64" : "x86_64"
  ami_id           = coalesce(var.ami_id, one(data.aws_ssm_parameter.ubuntu[*].insecure_value))
  snapshot_tag     = local.name
}

data "aws_subnet" "this" {
  id = var.subnet_id
}

data "aws_ssm_parameter" "ubuntu" {
  count = var.ami_id == null ? 1 : 0

  name = "/aws/service/canonical/ubuntu/server/24.04/stable/current/${var.architecture}/hvm/ebs-gp3/ami-id"
}

data "aws_ec2_instance_type" "this" {
  instance_type = var.instance_type
}

# --- Instance identity -----------------------------------------------------------------------

resource "aws_iam_role" "host" {
  name        = local.name
  description = "TimescaleDB host: SSM access, read/write of its DSN secret"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = {
    Name      = local.name
    Component = "serving"
  }
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.host.name
  policy_arn = "arn:${var.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "host" {
  name = "dsn-secret"
  role = aws_iam_role.host.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "OwnDsnSecret"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"]
        Resource = var.dsn_secret_arn
      },
      {
        Sid      = "KeyForTheSecret"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = var.kms_key_arn
        Condition = {
          StringEquals = { "kms:ViaService" = "secretsmanager.${var.aws_region}.amazonaws.com" }
        }
      },
    ]
  })
}

resource "aws_iam_instance_profile" "host" {
  name = local.name
  role = aws_iam_role.host.name
}

# --- Data volume -----------------------------------------------------------------------------

resource "aws_ebs_volume" "data" {
  availability_zone = data.aws_subnet.this.availability_zone
  type              = "gp3"
  size              = var.data_volume_gb
  iops              = var.data_volume_iops
  throughput        = var.data_volume_throughput
  encrypted         = true
  kms_key_id        = var.kms_key_arn
  final_snapshot    = !var.skip_final_snapshot

  tags = {
    Name      = "${local.name}-data"
    Component = "serving"
    Snapshot  = local.snapshot_tag
  }
}

# --- Host ------------------------------------------------------------------------------------

resource "aws_launch_template" "this" {
  name                   = local.name
  description            = "TimescaleDB ${var.postgres_version} serving store"
  image_id               = local.ami_id
  instance_type          = var.instance_type
  update_default_version = true
  ebs_optimized          = true

  vpc_security_group_ids = var.security_group_ids

  iam_instance_profile {
    arn = aws_iam_instance_profile.host.arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/sda1"

    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_gb
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  user_data = base64encode(templatefile("${path.module}/templates/user_data.sh.tftpl", {
    aws_region       = var.aws_region
    secret_arn       = var.dsn_secret_arn
    volume_id        = aws_ebs_volume.data.id
    postgres_version = var.postgres_version
    database         = var.database
    client_cidrs     = var.client_cidrs
  }))

  tag_specifications {
    resource_type = "instance"
    tags = {
      Name      = local.name
      Component = "serving"
    }
  }

  tag_specifications {
    resource_type = "volume"
    tags = {
      Name      = "${local.name}-root"
      Component = "serving"
    }
  }

  tags = {
    Name      = local.name
    Component = "serving"
  }

  lifecycle {
    precondition {
      condition     = contains(data.aws_ec2_instance_type.this.supported_architectures, local.ami_architecture)
      error_message = "timescale_instance_type ${var.instance_type} does not support the ${var.architecture} architecture: choose a matching type (e.g. t4g/r7g for arm64, t3/r7i for amd64) or change timescale_architecture."
    }
  }
}

resource "aws_instance" "this" {
  subnet_id = var.subnet_id

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  tags = {
    Name      = local.name
    Component = "serving"
  }

  lifecycle {
    # A new launch template version (AMI refresh, user_data edit) must not replace the database
    # host behind the operator's back. Roll it deliberately:
    #   terraform apply -replace='module.serving[0].aws_instance.this'
    ignore_changes = [launch_template]
  }
}

resource "aws_volume_attachment" "data" {
  device_name                    = "/dev/sdf"
  volume_id                      = aws_ebs_volume.data.id
  instance_id                    = aws_instance.this.id
  stop_instance_before_detaching = true
}

# --- Snapshots -------------------------------------------------------------------------------

resource "aws_iam_role" "dlm" {
  count = var.snapshot_retention_days > 0 ? 1 : 0

  name        = "${local.name}-snapshots"
  description = "Data Lifecycle Manager: daily snapshots of the TimescaleDB data volume"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "dlm.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "dlm" {
  count = var.snapshot_retention_days > 0 ? 1 : 0

  role       = aws_iam_role.dlm[0].name
  policy_arn = "arn:${var.partition}:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"
}

resource "aws_iam_role_policy" "dlm_kms" {
  count = var.snapshot_retention_days > 0 ? 1 : 0

  name = "snapshot-key"
  role = aws_iam_role.dlm[0].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncrypt*"]
      Resource = var.kms_key_arn
    }]
  })
}

resource "aws_dlm_lifecycle_policy" "data" {
  count = var.snapshot_retention_days > 0 ? 1 : 0

  description        = "${local.name} daily data volume snapshots"
  execution_role_arn = aws_iam_role.dlm[0].arn
  state              = "ENABLED"

  policy_details {
    resource_types = ["VOLUME"]
    target_tags = {
      Snapshot = local.snapshot_tag
    }

    schedule {
      name      = "daily"
      copy_tags = true

      create_rule {
        interval      = 24
        interval_unit = "HOURS"
        times         = ["03:00"]
      }

      retain_rule {
        interval      = var.snapshot_retention_days
        interval_unit = "DAYS"
      }
    }
  }

  tags = {
    Name      = "${local.name}-snapshots"
    Component = "serving"
  }
}
