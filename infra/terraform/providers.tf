provider "aws" {
  region = var.aws_region

  # Every taggable resource gets these; modules add only a Name (and, where useful, a Component).
  default_tags {
    tags = merge(
      {
        Project     = var.project
        Environment = var.environment
        ManagedBy   = "terraform"
        Repository  = "rwa-lakehouse/infra/terraform"
      },
      var.extra_tags,
    )
  }
}
