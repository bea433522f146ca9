extension Dashboard {
    /// The page: a shell the script fills. Every control has a label; the views are plain
    /// sections switched by the URL's fragment, so the back button and links work.
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>jobkernel</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body data-last-seq="" data-event-count="0" data-gaps="0" data-stream="connecting">
<a class="skip" href="#main">Skip to content</a>
<header>
  <h1><a href="#/">jobkernel</a></h1>
  <nav aria-label="Views">
    <a href="#/">Jobs</a>
    <a href="#/types">Types</a>
    <a href="#/settings">Workflow</a>
  </nav>
  <p class="stream" role="status" aria-live="polite"><span id="stream-dot" aria-hidden="true"></span><span id="stream-text">connecting…</span>
    · seq <output id="last-seq">–</output></p>
</header>
<main id="main" tabindex="-1">
  <p id="notice" role="alert" hidden></p>

  <section id="view-jobs" aria-labelledby="jobs-title">
    <h2 id="jobs-title">Jobs</h2>
    <form id="filters" class="filters" aria-label="Filter jobs">
      <label>Status
        <select name="status" id="f-status">
          <option value="">any</option>
          <option>scheduled</option><option>pending</option><option>running</option>
          <option>success</option><option>partial_success</option><option>failed</option>
          <option>cancelled</option><option>skipped</option>
        </select></label>
      <label>Type <input name="type" id="f-type" list="type-names" autocomplete="off" placeholder="any"></label>
      <datalist id="type-names"></datalist>
      <label>Dispatch mode
        <select name="dispatch_mode" id="f-mode">
          <option value="">any</option><option>internal</option><option>sync_api</option><option>async_api</option>
        </select></label>
      <label>Parent <input name="parent_id" id="f-parent" inputmode="numeric" placeholder="job id" size="8"></label>
      <label>Per page
        <select name="limit" id="f-limit"><option>25</option><option selected>50</option><option>100</option></select></label>
      <button type="submit">Apply</button>
      <button type="reset">Clear</button>
    </form>
    <div class="table-wrap">
    <table id="jobs" aria-describedby="jobs-title">
      <thead><tr>
        <th scope="col">ID</th><th scope="col">Type</th><th scope="col">Mode</th><th scope="col">Status</th>
        <th scope="col" class="wide">Progress</th><th scope="col">Created</th><th scope="col">Actions</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    </div>
    <p id="jobs-empty" hidden>No jobs match.</p>
    <nav class="pager" aria-label="Pages">
      <button type="button" id="page-newer" disabled>← Newer</button>
      <span id="page-label">page 1</span>
      <button type="button" id="page-older" disabled>Older →</button>
    </nav>
  </section>

  <section id="view-job" aria-labelledby="job-title" hidden>
    <p><a href="#/">← All jobs</a></p>
    <h2 id="job-title">Job</h2>
    <div class="job-head">
      <dl id="job-fields" class="fields"></dl>
      <div class="job-side">
        <div id="job-progress" class="progress-cell"></div>
        <div id="job-actions" class="actions" role="group" aria-label="Job actions"></div>
      </div>
    </div>
    <section id="job-error-section" aria-labelledby="job-error-title" hidden>
      <h3 id="job-error-title">Error</h3><pre id="job-error"></pre>
    </section>
    <section id="job-result-section" aria-labelledby="job-result-title" hidden>
      <h3 id="job-result-title">Result</h3><pre id="job-result"></pre>
    </section>
    <section aria-labelledby="job-log-title">
      <h3 id="job-log-title">Log <label class="inline"><input type="checkbox" id="log-follow" checked> follow</label></h3>
      <pre id="job-log" class="log" tabindex="0" aria-live="off" aria-label="Job log"></pre>
    </section>
    <section id="job-items-section" aria-labelledby="job-items-title" hidden>
      <h3 id="job-items-title">Items</h3>
      <div class="table-wrap"><table id="job-items"><thead><tr>
        <th scope="col">#</th><th scope="col">Status</th><th scope="col">Attempt</th><th scope="col">Value</th><th scope="col">Result / error</th>
      </tr></thead><tbody></tbody></table></div>
      <button type="button" id="items-more" hidden>More items</button>
    </section>
    <section id="job-children-section" aria-labelledby="job-children-title" hidden>
      <h3 id="job-children-title">Children</h3>
      <div class="table-wrap"><table id="job-children"><thead><tr>
        <th scope="col">ID</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col" class="wide">Progress</th>
      </tr></thead><tbody></tbody></table></div>
    </section>
  </section>

  <section id="view-types" aria-labelledby="types-title" hidden>
    <h2 id="types-title">Types</h2>
    <p class="hint">Queue depth (pending + scheduled) and throughput (jobs finished per second), sampled every 2 s.</p>
    <div class="actions" role="group" aria-label="All types">
      <button type="button" id="pause-all" hidden>Pause all</button>
      <button type="button" id="resume-all" hidden>Resume all</button>
    </div>
    <div id="type-cards" class="cards"></div>
  </section>

  <section id="view-settings" aria-labelledby="settings-title" hidden>
    <h2 id="settings-title">Workflow toggles</h2>
    <p class="hint">Chaining and <code>requires</code> read these (settings <code>workflow.*</code>).</p>
    <ul id="toggles" class="toggles"></ul>
    <p id="toggles-empty" hidden>This kernel has no workflow toggles.</p>
  </section>
</main>
</body>
</html>
"""#
}
