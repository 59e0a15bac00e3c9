// The /chat stream: chunks that add up to the /chat output (text appended, steps merged by index).

function mergeSteps(steps, updates) {
  const byIndex = new Map(steps.map((step) => [step.index, { ...step }]));
  for (const update of updates) byIndex.set(update.index, { ...byIndex.get(update.index), ...update });
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

/** Add one chunk to the answer so far; says which parts changed. */
export function addChunk(answer, chunk) {
  const changed = new Set(Object.keys(chunk));
  for (const [key, value] of Object.entries(chunk)) {
    if (key === "output") answer.output = (answer.output || "") + value;
    else if (key === "steps") answer.steps = mergeSteps(answer.steps || [], value);
    else answer[key] = value;
  }
  return changed;
}
