//! The HTTP server's command-line options, shared by the commands that serve the
//! dashboard and the API (`demo`, later `run`), and how they start it next to a pipeline.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use switchboard_server::auth::{BASIC_ENV, TOKEN_ENV};
use switchboard_server::{AppState, Auth, Clock, Hub, ServerHandle, ServerOptions};
use switchboard_store::StoreUrl;

use switchboard_pipeline::Pipeline;

#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Port of the dashboard and the API (0 picks a free one; the URL is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on. Anything but a loopback address needs --auth-token or
    /// --basic-auth.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Require this bearer token (browsers: open /?token=TOKEN once).
    #[arg(long, env = TOKEN_ENV, hide_env_values = true, value_name = "TOKEN")]
    pub auth_token: Option<String>,
    /// Require HTTP basic auth with these credentials.
    #[arg(long, env = BASIC_ENV, hide_env_values = true, value_name = "USER:PASSWORD",
          conflicts_with = "auth_token")]
    pub basic_auth: Option<String>,
    /// Mask customer phone numbers (all but the last four digits) in the API and the
    /// dashboard.
    #[arg(long)]
    pub mask_phone_numbers: bool,
    /// Do not serve the dashboard and the API.
    #[arg(long)]
    pub no_server: bool,
}

impl ServerArgs {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    /// Validated server options (the non-loopback check is made when binding).
    pub fn options(&self) -> anyhow::Result<ServerOptions> {
        let auth = Auth::from_options(self.auth_token.as_deref(), self.basic_auth.as_deref())?;
        Ok(ServerOptions {
            auth,
            mask_phone_numbers: self.mask_phone_numbers,
        })
    }

    /// Starts the server over `pipeline`'s engine, with a second (read) handle on its
    /// store, and hooks the feed to the pipeline. `None` with `--no-server`.
    pub fn start(
        &self,
        pipeline: &mut Pipeline,
        store: &StoreUrl,
        clock: Clock,
    ) -> anyhow::Result<Option<ServerHandle>> {
        if self.no_server {
            return Ok(None);
        }
        let options = self.options()?;
        let reader = store
            .open()
            .with_context(|| format!("cannot open store {store} for reading"))?;
        let hub = Hub::default();
        let state = AppState::new(pipeline.engine(), hub.clone(), options)
            .with_store(reader)
            .with_clock(clock);
        pipeline.on_changes(Box::new(move |engine, changes| {
            hub.publish(engine, changes);
        }));
        let server = ServerHandle::start(self.addr(), state)?;
        Ok(Some(server))
    }
}
