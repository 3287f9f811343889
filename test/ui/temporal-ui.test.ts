/**
 * The Temporal Web UI as a person uses it, in a real browser (Debian Chromium driven by playwright-core), against
 * `ech-remote dev`: open the printed Start Workflow link, paste a sample request, start; read in the current details
 * which approval the run waits for; approve from the signal dialog (its handler descriptions guide the person); see
 * the run complete; run the `status` query; find the audit Schedule `ech-remote schedule audit` made on the Schedules
 * page. Every stage leaves a screenshot in $ECH_REMOTE_TEST_ARTIFACTS/ui/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { connectWorkflowId } from '../../src/client';
import { HANDLER_DESCRIPTIONS } from '../../src/contract/messages';
import { launchChromium, type Browser } from '../helpers/browser';
import { startDev, type DevEnvironment } from '../helpers/dev';

const artifacts = path.join(process.env.ECH_REMOTE_TEST_ARTIFACTS ?? path.resolve('test-artifacts'), 'ui');
const approver = 'ui-approver@example.com';

let dev: DevEnvironment;
let browser: Browser;
let page: Page;

before(async () => {
  fs.rmSync(artifacts, { recursive: true, force: true });
  fs.mkdirSync(artifacts, { recursive: true });
  dev = await startDev();
  browser = await launchChromium();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
});

after(async () => {
  await browser?.close();
  await dev?.stop();
});

/** The UI renders the workflow's current details (markdown) in a frame of its own. */
function currentDetails() {
  return page.locator('iframe#user-metadata-current-details').contentFrame();
}

async function reloadCurrentDetails(): Promise<void> {
  await page.reload();
  await page.getByRole('tab', { name: 'User Metadata' }).click();
}

/** The run's status badge beside its id. */
function runStatus(status: 'Running' | 'Completed') {
  return page.getByTestId('execution-status').getByText(status, { exact: true });
}

let stageNumber = 0;

/** One stage a person goes through: a screenshot when it is done, a screenshot and the page's HTML when it fails. */
async function stage(name: string, run: () => Promise<void>): Promise<void> {
  const file = path.join(artifacts, `${String(++stageNumber).padStart(2, '0')}-${name}`);
  try {
    await run();
  } catch (err) {
    await page.screenshot({ path: `${file}-failed.png`, fullPage: true }).catch(() => undefined);
    fs.writeFileSync(`${file}-failed.html`, await page.content().catch(() => ''));
    throw err;
  }
  await page.screenshot({ path: `${file}.png`, fullPage: true });
}

/** Waits for something that appears once the run gets there, refreshing the page the way a person would. */
async function untilVisible(target: Locator, timeoutMs: number, refresh: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await target.first().waitFor({ state: 'visible', timeout: 3000 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await refresh();
    }
  }
}

it('a person starts a connection in the Temporal UI, sees what it waits for, approves it and queries its status', async () => {
  const request = dev.sampleRequest('api-key-public');
  const link = new URL(dev.startWorkflowLink());
  const workflowId = link.searchParams.get('workflowId')!;
  // Started from the UI or by `ech-remote connect`, a connection is the same run.
  assert.equal(workflowId, connectWorkflowId(request));

  await stage('start-workflow-form', async () => {
    await page.goto(link.href);
    // The link prefills everything but the input.
    assert.equal(await page.getByRole('textbox', { name: 'Workflow ID' }).inputValue(), workflowId);
    assert.equal(await page.getByRole('textbox', { name: 'Task Queue' }).inputValue(), 'ech-remote-clusters');
    assert.equal(await page.getByRole('textbox', { name: 'Workflow Type' }).inputValue(), 'connectRemoteCluster');
    await page.getByText('Task Queue is Active').waitFor();
    await page.getByRole('textbox', { name: 'Data' }).fill(JSON.stringify(request, null, 2));
  });

  await stage('workflow-started', async () => {
    await page.getByRole('button', { name: 'Start Workflow' }).click();
    await page.getByRole('link', { name: 'Workflow started successfully' }).click();
    await page.getByRole('heading', { name: workflowId }).waitFor();
    await runStatus('Running').waitFor();
  });

  await stage('waiting-for-approval', async () => {
    await page.getByRole('tab', { name: 'User Metadata' }).click();
    await untilVisible(currentDetails().getByText('Waiting for ech-org'), 60_000, reloadCurrentDetails);
    // The current details name the pending step by its id and say what the approval changes.
    await currentDetails()
      .getByRole('heading', { name: /Waiting for ech-org .*\(step approve-local-changes\)/ })
      .waitFor();
    await currentDetails()
      .getByRole('heading', { name: /approve the changes to deployment/ })
      .waitFor();
  });

  await stage('signal-dialog', async () => {
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
    await dialog.getByTestId('signal-select-button').click();
    const approve = dialog.getByRole('option', { name: /^approve/ });
    await approve.getByText(HANDLER_DESCRIPTIONS.approve, { exact: true }).waitFor();
    await dialog
      .getByRole('option', { name: /^reject/ })
      .getByText(HANDLER_DESCRIPTIONS.reject)
      .waitFor();
  });

  await stage('approve-filled', async () => {
    const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
    await dialog.getByRole('option', { name: /^approve/ }).click();
    await dialog
      .getByRole('textbox', { name: 'Data' })
      .fill(JSON.stringify({ step: 'approve-local-changes', approver }));
  });

  await stage('completed', async () => {
    const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
    await dialog.getByRole('button', { name: 'Submit' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await untilVisible(runStatus('Completed'), 60_000, () => page.reload().then(() => undefined));
    // The status badge refreshes by itself; the current details when the page is reloaded.
    await page.getByRole('tab', { name: 'User Metadata' }).click();
    await untilVisible(currentDetails().getByText('Phase: completed'), 30_000, reloadCurrentDetails);
  });

  await stage('status-query', async () => {
    await page.getByRole('tab', { name: 'Queries' }).click();
    await page.getByRole('button', { name: 'Run Query' }).click();
    await page.getByText(/"phase": "completed"/).waitFor();
    await page.getByText(`"detail": "approved by ${approver}"`).waitFor();
  });
});

/**
 * The start form as it opens from a link: once loaded (the UI looks for an earlier run to copy from), with its
 * advanced options open, what it would start with.
 */
async function startForm(href: string) {
  await page.goto(href);
  await page.getByText('Task Queue is Active').waitFor();
  await page.waitForLoadState('networkidle');
  if (!(await page.getByRole('heading', { name: 'Custom Search Attributes' }).isVisible())) {
    await page.getByRole('button', { name: 'More options' }).click();
  }
  await page.getByRole('heading', { name: 'Custom Search Attributes' }).waitFor();
  const editors = page.locator('.cm-content');
  return {
    workflowId: await page.getByRole('textbox', { name: 'Workflow ID' }).inputValue(),
    // The Data box, like the summary and details, is an editor (contenteditable), not an <input>.
    input: (await page.getByRole('textbox', { name: 'Data' }).innerText()).trim(),
    searchAttributes: await page.getByTestId('search-attribute-select').count(),
    editorCount: await editors.count(),
    editors: (await editors.allInnerTexts()).map((t) => t.trim()).join('\n'),
  };
}

it('after a run of a connection completed, its Start Workflow link opens a form with nothing of that run', async () => {
  // A completed run with a summary, details and search attributes (Phase=completed): started by the CLI.
  const run = await dev.shell(
    'ech-remote connect --request examples/dev/connect-api-key-private.json --approve --as you@example.com --wait',
  );
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const link = new URL(dev.startWorkflowLink('onprem-metrics'));

  await stage('start-form-after-a-run', async () => {
    const form = await startForm(link.href);
    assert.equal(form.workflowId, link.searchParams.get('workflowId'));
    assert.equal(form.input, '');
    assert.equal(form.searchAttributes, 0);
    // Data, summary and details: all empty.
    assert.equal(form.editorCount, 3);
    assert.equal(form.editors.replace(/\s/g, ''), '');
  });

  // What the link guards against: without its run id the UI copies the completed run into the form.
  await stage('start-form-copied-from-the-run', async () => {
    const unguarded = new URL(link);
    unguarded.searchParams.delete('runId');
    await page.goto(unguarded.href);
    await page.getByTestId('search-attribute-select').first().waitFor();
    const form = await startForm(unguarded.href);
    assert.ok(form.searchAttributes > 0);
    assert.match(form.editors, /Connect ECH .* as "onprem-metrics"/);
    assert.match(form.editors, /Remote cluster alias/);
  });
});

it('the audit schedule `ech-remote schedule audit` creates is on the Schedules page, with its workflow and interval', async () => {
  const made = await dev.shell('ech-remote schedule audit --request examples/dev/audit.json --every 24h');
  assert.equal(made.code, 0, `${made.stdout}\n${made.stderr}`);
  const scheduleId = /Created schedule (\S+):/.exec(made.stdout)?.[1];
  assert.ok(scheduleId, made.stdout);
  const ui = new URL(dev.startWorkflowLink()).origin;

  await stage('schedules-page', async () => {
    await page.goto(`${ui}/namespaces/default/schedules`);
    await page.getByRole('link', { name: scheduleId }).click();
  });

  await stage('schedule-page', async () => {
    await page.getByRole('heading', { name: scheduleId }).waitFor();
    await page.getByText('auditRemoteClusters', { exact: true }).first().waitFor();
    // 24h as the UI words it, and the overlap policy the CLI set.
    await page
      .getByText(/Every 1 day\(s\)/)
      .first()
      .waitFor();
    await page.getByText('Overlap Policy').locator('..').getByText('Skip', { exact: true }).waitFor();
  });
});
