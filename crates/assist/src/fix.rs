//! The fix loop: propose a change, check it with the language service on a scratch copy, run it in
//! the sandbox on a scratch copy, feed what failed back, until a proposal type-checks and runs with
//! exit 0 or the steps are used up. The user's cell and files are untouched throughout.

use crate::{
    AssistError, Assistant, Finished, Kind, Progress, Sink, StepReport, add, answer, code_cell, prompts, turn,
};
use quire_ai::ChatRequest;

/// Proposals tried before giving up.
pub const DEFAULT_STEPS: u32 = 3;
pub const MAX_STEPS: u32 = 6;

impl Assistant {
    /// `diagnostics` and `output`: what the user sees for the cell (the stock client sends its
    /// diagnostics as text); the language service's current errors are added to them.
    pub async fn fix(
        &self,
        nb: &str,
        cell_id: &str,
        diagnostics: &str,
        output: &str,
        max_steps: u32,
        sink: Sink<'_>,
    ) -> Result<Finished, AssistError> {
        let max_steps = max_steps.clamp(1, MAX_STEPS);
        let t = self.target().await?;
        let (cells, language) = self.notebook(nb)?;
        let cell = code_cell(&cells, cell_id)?.clone();
        let svc = self.service();
        let mut known = svc.check_proposal(nb, cell_id, &cell.source).await.unwrap_or_default();
        if !diagnostics.trim().is_empty() {
            known.insert(0, diagnostics.trim().to_string());
        }
        known.dedup();
        let mut user = prompts::notebook_context(&cells, language, Some(cell_id));
        let joined = known.join("\n");
        let ctx = prompts::CellContext {
            filename: &cell.filename,
            source: &cell.source,
            diagnostics: &joined,
            output,
        };
        user.push_str(&prompts::cell_block(&ctx, language));
        user.push_str(&format!("\nFix the cell {}.\n", cell.filename));
        let mut request = ChatRequest::new(&t.model, user).with_system(prompts::fix_system());
        self.started(Kind::Fix, &t, &request, sink);

        let mut done = Finished::default();
        for step in 1..=max_steps {
            let got = self.stream(&t, &request, step, &self.cx(Some(nb)), sink).await?;
            add(&mut done.usage, got.usage);
            done.first_token = done.first_token.or(got.first_token);
            let code = answer::extract_code(&got.text);
            let diagnostics = svc.check_proposal(nb, cell_id, &code).await?;
            let run = if diagnostics.is_empty() {
                Some(svc.run_proposal(nb, cell_id, &code, self.run_timeout).await?)
            } else {
                None
            };
            let ok = run.as_ref().is_some_and(|r| r.passed());
            let (out, exit_code, timed_out) = run
                .as_ref()
                .map_or((String::new(), None, false), |r| (r.output.clone(), r.exit_code, r.timed_out));
            sink(Progress::Step(StepReport {
                step,
                max_steps,
                code: code.clone(),
                diagnostics: diagnostics.clone(),
                output: out.clone(),
                exit_code,
                ok,
            }));
            done.steps = step;
            done.output = Some(code.clone());
            if ok {
                done.ok = true;
                return Ok(done);
            }
            turn(&mut request, &got.text, prompts::feedback(&diagnostics, &out, exit_code, timed_out));
        }
        Ok(done)
    }
}
