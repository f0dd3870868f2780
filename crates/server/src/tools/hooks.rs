//! What the gate and the config file need from the server: the instance key to seal `env` and
//! `headers` values, the WebSocket hub as the audience that answers approvals, settings for the
//! "always allow" rules.

use crate::ws::hub::Hub;
use crate::ws::messages::{ServerEvent, caps};
use quire_mcp::{AllowRule, Audience, GateEvent, RuleStore, Sealer};
use quire_notebook::Database;
use quire_notebook::seal::SealKey;
use std::sync::Arc;

pub struct KeySealer(pub SealKey);

impl Sealer for KeySealer {
    fn seal(&self, plain: &str) -> Result<String, String> {
        self.0.seal(plain).map_err(|e| e.to_string())
    }
    fn open(&self, sealed: &str) -> Result<String, String> {
        self.0.open(sealed).map(|p| p.to_string()).map_err(|e| e.to_string())
    }
}

/// Approvals go to the connections that said they can answer them (capability `mcp`): the
/// notebook's subscribers, or every connection for a call that names no notebook.
pub struct HubAudience(pub Arc<Hub>);

impl Audience for HubAudience {
    fn has_clients(&self, notebook_id: Option<&str>) -> bool {
        self.0.any_with_cap(notebook_id, caps::MCP)
    }
    fn notify(&self, event: GateEvent) {
        let (notebook, event) = match event {
            GateEvent::Pending(p) => (p.notebook_id.clone(), ServerEvent::McpApproval(Box::new(p))),
            GateEvent::Resolved { id, notebook_id, outcome, by } => {
                (notebook_id, ServerEvent::McpApprovalResolved { id, outcome, by })
            }
        };
        match notebook {
            Some(nb) => self.0.broadcast(&nb, &event, crate::ws::hub::Audience::All),
            None => self.0.broadcast_everywhere(&event),
        }
    }
}

/// Rules in the settings table (`mcpAllowRules`), not shown by `/api/settings` (they have their own routes).
pub struct SettingsRules(pub Arc<dyn Database>);

pub const RULES_SETTING: &str = "mcpAllowRules";

impl SettingsRules {
    fn save(&self, rules: &[AllowRule]) {
        let patch = [(RULES_SETTING.to_string(), serde_json::json!(rules))].into();
        if let Err(e) = self.0.update_settings(&patch) {
            tracing::error!(error = %e, "could not store the MCP allow rules");
        }
    }
}

impl RuleStore for SettingsRules {
    fn rules(&self) -> Vec<AllowRule> {
        let settings = self.0.settings().unwrap_or_default();
        settings.get(RULES_SETTING).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
    }
    fn add(&self, rule: AllowRule) {
        let mut rules = self.rules();
        if !rules.contains(&rule) {
            rules.push(rule);
            self.save(&rules);
        }
    }
    fn remove(&self, rule: &AllowRule) {
        let mut rules = self.rules();
        rules.retain(|r| r != rule);
        self.save(&rules);
    }
}
