// One printer action from a button: the POST, a toast if it fails, confirmation first if asked.
export async function printerAction(ctx, name, action, extra = {}) {
  return ctx.api.post(`/api/farm/printers/${encodeURIComponent(name)}/action`, { action, ...extra });
}

export async function act(ctx, what, call) {
  try {
    return await call();
  } catch (err) {
    ctx.toast.error(what, err);
    return undefined;
  }
}

export async function cancelPrint(ctx, name) {
  const yes = await ctx.confirm({
    title: `Cancel the print on ${name}?`,
    message: "The print stops at once and its heaters turn off. It cannot be resumed.",
    action: "Cancel print", danger: true,
  });
  if (yes) await act(ctx, `Cancel on ${name}`, () => printerAction(ctx, name, "cancel"));
}
