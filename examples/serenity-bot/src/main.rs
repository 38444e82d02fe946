//! A Discord bot on serenity whose background work runs on `tasks` loops:
//! a cog with a counter that a loop posts and a `/count` command reads and
//! resets, a daily report at a time of day in the guild's zone, the loops
//! started at once and waiting until the gateway is ready, retries of the
//! Discord errors worth retrying, and the loops shut down gracefully on
//! Ctrl-C before the client. See README.md for how to run it.

mod cog;
mod config;
#[cfg(test)]
mod fake_discord;
mod shutdown;
mod transient;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    Client, Context, CreateCommand, CreateInteractionResponse, CreateInteractionResponseMessage,
    EventHandler, GatewayIntents, Interaction, Ready,
};
use serenity::async_trait;
use tracing::{error, info, warn};

use crate::cog::CounterCog;
use crate::config::{Config, USAGE};
use crate::shutdown::shutdown_loops;

/// How long an iteration in progress gets to finish on Ctrl-C before it is
/// cancelled; the client shuts down once every loop has ended.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The gateway's events, handed to the cog.
struct Handler {
    cog: Arc<CounterCog>,
}

#[async_trait]
impl EventHandler for Handler {
    /// Fires on the first connection and again after every reconnection
    /// that could not resume, once per shard: the first one lets the loops
    /// (waiting in `before_loop`) run, the later ones change nothing.
    async fn ready(&self, ctx: Context, ready: Ready) {
        info!(user = %ready.user.name, shard = ?ready.shard, "connected");
        self.cog.set_ready();
        register_commands(&ctx, &self.cog).await;
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let Interaction::Command(command) = interaction else {
            return;
        };
        if command.data.name != "count" {
            return;
        }
        let count = self.cog.take_count().await;
        let reply = CreateInteractionResponseMessage::new().content(format!(
            "The counter was at {count}; it starts again from zero."
        ));
        if let Err(error) = command
            .create_response(&ctx.http, CreateInteractionResponse::Message(reply))
            .await
        {
            warn!(%error, "cannot answer /count");
        }
    }
}

/// Registers `/count` in the guild of the cog's channel. A bulk overwrite:
/// doing it again on every `ready` changes nothing.
async fn register_commands(ctx: &Context, cog: &CounterCog) {
    let guild = match cog.channel().to_channel(ctx).await.map(|c| c.guild()) {
        Ok(Some(channel)) => channel.guild_id,
        Ok(None) => {
            warn!("CHANNEL_ID is not a guild channel: /count is not registered");
            return;
        }
        Err(error) => {
            warn!(%error, "cannot read CHANNEL_ID's channel: /count is not registered");
            return;
        }
    };
    let count = CreateCommand::new("count").description("Show the counter and set it back to zero");
    if let Err(error) = guild.set_commands(&ctx.http, vec![count]).await {
        warn!(%error, "cannot register /count");
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().init();

    let config = match Config::from_env() {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("DISCORD_TOKEN is not set: nothing to run.\n\n{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cog = match CounterCog::new(config.channel, config.daily_at) {
        Ok(cog) => cog,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };

    let handler = Handler {
        cog: Arc::clone(&cog),
    };
    let mut client = match Client::builder(&config.token, GatewayIntents::GUILDS)
        .event_handler(handler)
        .await
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: cannot make the client: {error}");
            return ExitCode::FAILURE;
        }
    };

    // As discord.py's cogs start their loops when loaded: the loops start
    // now and wait in `before_loop` until `ready` sets the cog's signal.
    cog.start_loops(&client.http);

    // Ctrl-C: the loops first (an iteration in progress and the `after_loop`
    // hooks still have a client to post through), then the shards, which
    // makes `client.start()` return.
    let shard_manager = Arc::clone(&client.shard_manager);
    tokio::spawn(async move {
        if let Err(error) = tokio::signal::ctrl_c().await {
            error!(%error, "cannot listen for Ctrl-C");
            return;
        }
        info!("Ctrl-C: shutting the loops down, then the client");
        shutdown_loops(SHUTDOWN_GRACE).await;
        shard_manager.shutdown_all().await;
    });

    match client.start().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: the client stopped: {error} (is DISCORD_TOKEN right?)");
            ExitCode::FAILURE
        }
    }
}
