//! The bot's settings, read from environment variables.

use serenity::all::ChannelId;
use tasks::TimeOfDay;

/// What to set, printed when `DISCORD_TOKEN` is missing or a value is wrong.
pub const USAGE: &str = "\
serenity-bot: a Discord bot whose background loops run on `tasks`.

Environment variables:
  DISCORD_TOKEN  the bot's token (Discord Developer Portal > your application > Bot > Reset Token)
  CHANNEL_ID     the channel the loops post to (Discord: Developer Mode on,
                 then right-click the channel > Copy Channel ID)
  GUILD_TZ       the guild's time zone, an IANA name (\"Asia/Seoul\") or an
                 offset (\"+09:00\"); default UTC
  DAILY_AT       the time of the daily report, \"HH:MM\" in GUILD_TZ; default 09:00

For example:
  DISCORD_TOKEN=... CHANNEL_ID=123456789012345678 GUILD_TZ=Asia/Seoul cargo run";

/// The settings of a run with a token.
#[derive(Debug)]
pub struct Config {
    /// The bot's token.
    pub token: String,
    /// Where the loops post.
    pub channel: ChannelId,
    /// When the daily report is posted, in the guild's zone.
    pub daily_at: TimeOfDay,
}

/// A setting that is missing or cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `CHANNEL_ID` is not set.
    #[error("CHANNEL_ID is not set: the bot needs a channel to post to")]
    MissingChannel,
    /// `CHANNEL_ID` is not a channel id.
    #[error("CHANNEL_ID is `{0}`: a channel id is a positive number such as 123456789012345678")]
    BadChannel(String),
    /// `GUILD_TZ` or `DAILY_AT` cannot be used.
    #[error("GUILD_TZ or DAILY_AT: {0}")]
    BadDailyTime(#[from] tasks::ConfigError),
}

impl Config {
    /// Reads the settings through `var` (`std::env::var` in the program, a
    /// map in tests): `Ok(None)` when there is no token, so nothing to run.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Config>, SetupError> {
        let Some(token) = var("DISCORD_TOKEN").filter(|token| !token.trim().is_empty()) else {
            return Ok(None);
        };
        let channel = var("CHANNEL_ID").ok_or(SetupError::MissingChannel)?;
        let channel = match channel.trim().parse::<u64>() {
            Ok(id) if id > 0 => ChannelId::new(id),
            _ => return Err(SetupError::BadChannel(channel)),
        };
        let zone = var("GUILD_TZ").unwrap_or_else(|| "UTC".to_owned());
        let daily_at = var("DAILY_AT").unwrap_or_else(|| "09:00".to_owned());
        let daily_at = TimeOfDay::parse_in(daily_at.trim(), zone.trim())?;
        Ok(Some(Config {
            token: token.trim().to_owned(),
            channel,
            daily_at,
        }))
    }

    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Option<Config>, SetupError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(set: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            set.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn without_a_token_there_is_nothing_to_run() {
        assert!(Config::from_vars(vars(&[])).unwrap().is_none());
        assert!(Config::from_vars(vars(&[("DISCORD_TOKEN", " ")]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_token_needs_a_channel() {
        let missing = Config::from_vars(vars(&[("DISCORD_TOKEN", "t")])).unwrap_err();
        assert!(matches!(missing, SetupError::MissingChannel));
        let bad = Config::from_vars(vars(&[("DISCORD_TOKEN", "t"), ("CHANNEL_ID", "general")]));
        assert!(matches!(bad, Err(SetupError::BadChannel(_))));
    }

    #[test]
    fn the_daily_time_is_in_the_guild_zone() {
        let config = Config::from_vars(vars(&[
            ("DISCORD_TOKEN", "t"),
            ("CHANNEL_ID", "42"),
            ("GUILD_TZ", "Asia/Seoul"),
            ("DAILY_AT", "08:30"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(config.channel, ChannelId::new(42));
        assert_eq!(
            config.daily_at,
            TimeOfDay::parse_in("08:30", "Asia/Seoul").unwrap()
        );
        let zone = Config::from_vars(vars(&[
            ("DISCORD_TOKEN", "t"),
            ("CHANNEL_ID", "42"),
            ("GUILD_TZ", "Asia/Seol"),
        ]));
        assert!(matches!(zone, Err(SetupError::BadDailyTime(_))));
    }
}
