#[derive(clap::Subcommand)]
pub enum What {
    Core,
}
pub fn run(_w: What) -> anyhow::Result<()> {
    Ok(())
}
