// Preact with htm tagged templates: the page's one way to write components (no build step).
import { h, render, Fragment } from "preact";
import htm from "htm";

export const html = htm.bind(h);
export { h, render, Fragment };
export { useState, useEffect, useRef, useMemo, useCallback, useReducer } from "preact/hooks";
