// The portal in a real browser against the real stack (started by tests/e2e/test_portal.py): every request that
// leaves the loopback interface is aborted and recorded, and each test ends asserting there was none.
import { test, expect, type BrowserContext, type Page } from '@playwright/test';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const PORTAL = process.env.PORTAL_URL!;
const GRAPHIQL = process.env.GRAPHIQL_URL!;
const SHOTS = process.env.SCREENSHOT_DIR || 'screenshots';
const TIMINGS = process.env.TIMINGS_FILE || join(SHOTS, 'timings.json');
const DEMO_RUN = process.env.DEMO_RUN_ID!;
const HOUSING_RESULT = process.env.HOUSING_RESULT_ID!;
mkdirSync(SHOTS, { recursive: true });

test.describe.configure({ mode: 'serial' });

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Every request off the loopback interface is aborted and remembered. */
async function isolate(context: BrowserContext): Promise<string[]> {
  const outside: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (['data:', 'blob:'].includes(url.protocol) || LOOPBACK.has(url.hostname)) return route.continue();
    outside.push(url.href);
    return route.abort('blockedbyclient');
  });
  return outside;
}

async function fresh(browser: import('@playwright/test').Browser) {
  const context = await browser.newContext();
  const outside = await isolate(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return { context, page, outside, errors };
}

async function signIn(page: Page, label: RegExp) {
  await page.goto(`${PORTAL}/#/signin`);
  await page.getByTestId('dev-token').filter({ hasText: label }).click();
  await expect(page.getByTestId('who')).toBeVisible();
}

function timing(name: string, ms: number) {
  const all = existsSync(TIMINGS) ? JSON.parse(readFileSync(TIMINGS, 'utf8')) : {};
  all[name] = ms;
  writeFileSync(TIMINGS, JSON.stringify(all, null, 2));
}

const ROLES: [RegExp, string, string[]][] = [
  [/广东省/, 'GD', ['admin', 'organizer']],
  [/广州市 \(organizer/, 'GD-GZ', ['organizer', 'reviewer']],
  [/广州市住建局/, 'GZ-HOUSING', ['unit']],
  [/深圳市/, 'GD-SZ', ['viewer']],
];

test('sign-in with each demo role shows the unit, its roles and ancestors; a bad token goes back to sign-in', async ({ browser }) => {
  const { context, page, outside, errors } = await fresh(browser);
  for (const [label, unit, roles] of ROLES) {
    await signIn(page, label);
    const who = page.getByTestId('who');
    await expect(who.locator('code')).toHaveText(unit);
    for (const role of roles) await expect(who.locator('.roles')).toContainText(role);
    if (unit === 'GZ-HOUSING') await expect(who.locator('.ancestors')).toContainText('广东省 › 广州市');
    await page.getByRole('button', { name: '退出' }).click();
    await expect(page.getByRole('heading', { name: '登录' })).toBeVisible();
  }
  // A pasted JWT the gateway does not accept: UNAUTHENTICATED, and the user is back at sign-in, told why.
  await page.locator('textarea[name=jwt]').fill('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.forged');
  await page.getByRole('button', { name: '使用此令牌' }).click();
  await expect(page.locator('[data-codes=UNAUTHENTICATED]')).toBeVisible();
  await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
  await context.close();
});

test('the overview: latest published run per scheme, ranking with flags, charts, subtree pages', async ({ browser }) => {
  const { context, page, outside, errors } = await fresh(browser);
  await signIn(page, /广州市 \(organizer/);
  await page.getByRole('button', { name: '退出' }).click();
  await signIn(page, /广州市 \(organizer/);
  // First load of the overview, the app loaded anew: from navigation to the ranking drawn.
  const started = Date.now();
  await page.goto(`${PORTAL}/#/`);
  await page.reload();
  const ranking = page.getByTestId('ranking');
  await expect(ranking.locator('tbody tr')).toHaveCount(7);
  await expect(ranking.locator('canvas').first()).toBeVisible();
  timing('overview_first_load_ms', Date.now() - started);
  await expect(page.getByTestId('run-link').first()).toContainText('广州市承办单位2022年工单办理专项评价');
  // Ranks, grades and totals as the API gives them; named units of the caller's subtree.
  await expect(ranking.locator('tbody tr').first().locator('td').first()).toHaveText('1');
  await expect(ranking).toContainText('广州市住房和城乡建设局');
  await expect(ranking.locator('th')).toContainText(['排名', '单位', '等级', '总分', '95% 区间', '名次变化', '提示']);
  const subtree = page.getByTestId('subtree');
  await expect(subtree).toContainText('第 1 页');
  await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });

  const firstPage = await subtree.locator('tbody').innerText();
  await subtree.getByTestId('next-page').click();
  await expect(subtree).toContainText('第 2 页');
  await expect(subtree.locator('tbody')).not.toHaveText(firstPage);
  await expect(subtree.locator('tbody tr')).not.toHaveCount(0);
  // English on request.
  await page.getByRole('button', { name: 'English' }).click();
  await expect(ranking.locator('th').first()).toHaveText('Rank');
  await page.getByRole('button', { name: '中文' }).click();
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
  await context.close();
});

test('a result explained: indicators with value, reference and setter, rule, score, explanation, sources; reports', async ({ browser }) => {
  const { context, page, outside, errors } = await fresh(browser);
  await signIn(page, /广州市 \(organizer/);
  await page.getByTestId('ranking').getByRole('link', { name: '广州市住房和城乡建设局' }).click();
  const result = page.getByTestId('result');
  await expect(result.locator('h2')).toContainText('广州市住房和城乡建设局');
  const rows = result.locator('table.indicators tbody tr');
  await expect(rows).toHaveCount(3);
  const onTime = result.locator('tr[data-indicator=on_time_closure_rate]');
  await expect(onTime).toContainText('percentile');
  await expect(onTime).toContainText('ratio_to_reference');
  await expect(result.locator('tr[data-indicator=average_resolution_time]')).toContainText('设定单位');
  await expect(onTime.locator('td.explanation')).not.toBeEmpty();
  await expect(page.getByTestId('sources').locator('tbody tr').first()).toContainText('boston-311');
  const xlsx = page.waitForEvent('download');
  await page.getByTestId('report-xlsx').first().click();
  expect((await xlsx).suggestedFilename()).toMatch(/\.xlsx$/);
  const pdf = page.waitForEvent('download');
  await page.getByTestId('report-pdf').first().click();
  const file = await (await pdf).path();
  expect(readFileSync(file!).subarray(0, 5).toString()).toBe('%PDF-');
  await page.screenshot({ path: join(SHOTS, 'result-explained.png'), fullPage: true });
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
  await context.close();
});

test("the organizer's flow: template, validation at the field, publish, a run followed live, run published", async ({ browser }) => {
  const { context, page, outside, errors } = await fresh(browser);
  await signIn(page, /广州市 \(organizer/);
  await page.getByRole('link', { name: '组织评价' }).click();
  await page.getByTestId('template').selectOption('enterprise_service');
  await page.locator('input[name=code]').fill('PORTAL-ES-2024Q3');
  await page.locator('input[name=nameZh]').fill('广州市企业服务评价（门户测试）');
  await page.getByRole('button', { name: '创建草稿' }).click();
  const draft = page.getByTestId('draft');
  await expect(draft).toBeVisible();
  // A bad value: the problem is shown beside its own field.
  const points = draft.locator('input[name="items[0].points"]');
  const kept = await points.inputValue();
  await points.fill('-5');
  await draft.getByRole('button', { name: '校验' }).click();
  await expect(draft.locator('.field-problem[data-path="items[0].points"]')).toBeVisible();
  await points.fill(kept);
  await draft.getByRole('button', { name: '校验' }).click();
  await expect(page.getByTestId('valid')).toBeVisible();
  await draft.getByRole('button', { name: '发布方案' }).click();
  await expect(draft).toContainText('已发布');
  await page.locator('select[name=periodKind]').selectOption('QUARTER');
  await page.locator('input[name=period]').fill('2024-Q3');
  await page.getByRole('button', { name: '开始', exact: true }).click();
  const progress = page.getByTestId('run-progress');
  await expect(progress).toHaveAttribute('data-status', 'done', { timeout: 90_000 });
  expect(Number(await progress.getAttribute('data-events'))).toBeGreaterThan(0);
  await page.getByRole('button', { name: '发布批次' }).click();
  await expect(page.getByTestId('run-published')).toBeVisible();
  await page.screenshot({ path: join(SHOTS, 'organizer.png'), fullPage: true });
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
  await context.close();
});

test('an appeal filed with evidence, taken and decided live; the unit sees the new revision', async ({ browser }) => {
  const reviewer = await fresh(browser);
  const unit = await fresh(browser);
  await signIn(reviewer.page, /广州市 \(organizer/);
  await reviewer.page.getByRole('link', { name: '待办' }).click();
  await expect(reviewer.page.getByTestId('live')).toBeVisible();
  const queued = await reviewer.page.getByTestId('queue').locator('tr').count();

  await signIn(unit.page, /广州市住建局/);
  await unit.page.getByRole('link', { name: '本单位' }).click();
  await expect(unit.page.getByTestId('my-results').locator('tbody tr')).not.toHaveCount(0);
  // The demo evaluation's result (the organizer's test just published another run of this unit).
  const demoRow = unit.page.getByTestId('my-results').locator('tbody tr', { hasText: '工单办理' });
  await demoRow.click();
  await expect(demoRow).toHaveClass(/focus/);
  const before = await demoRow.getByTestId('my-total').innerText();
  await unit.page.locator('input[name=indicator][value=on_time_closure_rate]').check();
  await unit.page.locator('input[name="value-on_time_closure_rate"]').fill('99');
  await unit.page.locator('textarea[name=reason]').fill('部分工单按期办结，系统记录的办结时间有误（门户测试）');
  await unit.page.locator('input[name=evidence]').setInputFiles({ name: 'closure-log.txt', mimeType: 'text/plain', buffer: Buffer.from('工单办结记录：按期办结 2022-06-30\n') });
  await unit.page.getByRole('button', { name: '提交申诉' }).click();
  await expect(unit.page.getByTestId('appeal-filed')).toBeVisible();
  await expect(unit.page.getByTestId('my-appeals').locator('tr[data-status=SUBMITTED]')).toHaveCount(1);

  // The reviewer's queue grows live (no reload): the appeal arrives through the inbox subscription.
  await expect(reviewer.page.getByTestId('queue').locator('tr')).toHaveCount(queued + 1);
  await reviewer.page.getByTestId('queue').getByRole('link').last().click();
  const appeal = reviewer.page.getByTestId('appeal');
  await expect(appeal).toContainText('closure-log.txt');
  // A second reviewer's page, read before the first one takes the appeal: its take is a concurrent change.
  const stale = await reviewer.context.newPage();
  const appealUrl = reviewer.page.url();
  await signIn(stale, /广州市 \(organizer/); // the token lives in the tab's session storage: each tab signs in
  await stale.goto(appealUrl);
  await expect(stale.getByTestId('appeal')).toHaveAttribute('data-status', 'SUBMITTED');
  await appeal.getByRole('button', { name: '受理' }).click();
  await expect(appeal).toHaveAttribute('data-status', 'IN_REVIEW');
  await stale.getByTestId('appeal').getByRole('button', { name: '受理' }).click();
  await expect(stale.locator('.error[data-codes~=CONFLICT]')).toContainText('已重新读取');
  await expect(stale.getByTestId('appeal')).toHaveAttribute('data-status', 'IN_REVIEW'); // read again
  await stale.close();
  await appeal.locator('input[name=upheld][value=on_time_closure_rate]').check();
  await appeal.locator('textarea[name=decisionReason]').fill('核实办结记录，予以更正');
  await appeal.getByRole('button', { name: '作出决定' }).click();
  await expect(appeal).toHaveAttribute('data-status', 'DECIDED');
  await expect(reviewer.page.getByTestId('decisions')).toContainText('新修订版');
  await reviewer.page.screenshot({ path: join(SHOTS, 'reviewer.png'), fullPage: true });

  // The unit's page follows live: decided, with the total before and after, and the result's new revision.
  const mine = unit.page.getByTestId('my-appeals').locator('tr[data-status=DECIDED]');
  await expect(mine).toHaveCount(1);
  await expect(mine).toContainText('调整前');
  const after = await mine.getByTestId('total-after').innerText();
  expect(after).not.toEqual(before);
  await expect(demoRow.getByTestId('my-total')).toHaveText(after);
  await unit.page.screenshot({ path: join(SHOTS, 'unit-appeal.png'), fullPage: true });

  // A second appeal, on which the reviewer asks for more information: the unit sees the request live.
  await unit.page.locator('input[name=indicator][value=overall_closure_rate]').check();
  await unit.page.locator('textarea[name=reason]').fill('办结数据缺少 12 月的工单（门户测试）');
  await unit.page.getByRole('button', { name: '提交申诉' }).click();
  await expect(unit.page.getByTestId('my-appeals').locator('tr[data-status=SUBMITTED]')).toHaveCount(1);
  await reviewer.page.goto(`${PORTAL}/#/inbox`);
  await reviewer.page.getByTestId('queue').getByRole('link').last().click();
  await appeal.getByRole('button', { name: '受理' }).click();
  await expect(appeal).toHaveAttribute('data-status', 'IN_REVIEW');
  await appeal.locator('input[name=message]').fill('请补充 12 月工单的办结记录');
  await appeal.getByRole('button', { name: '要求补充材料' }).click();
  await expect(appeal).toHaveAttribute('data-status', 'INFORMATION_REQUESTED');
  await expect(unit.page.getByTestId('my-appeals').locator('tr[data-status=INFORMATION_REQUESTED]')).toHaveCount(1);

  await demoRow.getByRole('link').click();
  await expect(unit.page.getByTestId('result')).toContainText('修订版 2');
  for (const side of [reviewer, unit]) {
    expect(side.outside).toEqual([]);
    expect(side.errors).toEqual([]);
    await side.context.close();
  }
});

test('the province sees the roll-up of its cities; a viewer trying an organizer action is told it may not', async ({ browser }) => {
  const { context, page, outside, errors } = await fresh(browser);
  await signIn(page, /广东省/);
  // Both of Guangzhou's published runs (the demo's, and the one the organizer's test published), each by scheme.
  await expect(page.getByTestId('run-link')).toHaveCount(2);
  await page.getByTestId('run-link').filter({ hasText: '工单办理' }).click();
  await expect(page.getByTestId('ranking').locator('tbody tr')).toHaveCount(7);
  await expect(page.getByTestId('subtree')).toContainText('广州市');
  await page.getByRole('button', { name: '退出' }).click();
  await signIn(page, /深圳市/);
  await page.goto(`${PORTAL}/#/organizer`);
  await page.locator('input[name=code]').fill('SZ-NOT-ALLOWED');
  await page.locator('input[name=nameZh]').fill('无权创建');
  await page.getByRole('button', { name: '创建草稿' }).click();
  await expect(page.locator('.problems, .error').first()).toContainText(/forbidden|FORBIDDEN|无权|organizer/);
  await page.screenshot({ path: join(SHOTS, 'forbidden.png') });
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
  await context.close();
});

test("a sibling city's data is never shown", async ({ browser }) => {
  const { context, page, outside } = await fresh(browser);
  await signIn(page, /深圳市/);
  await expect(page.getByTestId('no-runs')).toBeVisible();
  await page.goto(`${PORTAL}/#/run/${DEMO_RUN}`);
  await expect(page.getByTestId('not-visible')).toBeVisible();
  await page.goto(`${PORTAL}/#/result/${HOUSING_RESULT}`);
  await expect(page.getByTestId('not-visible')).toBeVisible();
  const text = await page.locator('body').innerText();
  expect(text).not.toContain('广州市住房和城乡建设局');
  expect(text).not.toContain('工单办理');
  expect(outside).toEqual([]);
  await context.close();
});

test('GraphiQL renders fully with the outside network blocked', async ({ browser }) => {
  const { context, page, outside } = await fresh(browser);
  await page.goto(GRAPHIQL, { waitUntil: 'load' });
  await expect(page.locator('.graphiql-container').first()).toBeVisible();
  await expect(page.locator('.graphiql-query-editor, .graphiql-editor').first()).toBeVisible();
  await expect(page.locator('body')).not.toContainText('Loading');
  await page.screenshot({ path: join(SHOTS, 'graphiql.png') });
  expect(outside).toEqual([]);
  await context.close();
});
