/** Option parsers the commands share: each turns a bad value into commander's one-line usage error. */
import { InvalidArgumentError } from 'commander';

/** `parse` as a commander option parser: its error becomes an InvalidArgumentError with the same message. */
export function parsed<T>(parse: (text: string) => T): (text: string) => T {
  return (text: string): T => {
    try {
      return parse(text);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

export const positiveInteger = parsed((text: string): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`"${text}" is not a positive whole number`);
  return n;
});

/** A number from 0 to 1; `what` names it in the error ("a confidence", "a number"). */
export function fraction(what: string): (text: string) => number {
  return parsed((text: string): number => {
    const x = Number(text);
    if (text.trim() === '' || !(x >= 0 && x <= 1)) throw new Error(`"${text}" is not ${what} between 0 and 1`);
    return x;
  });
}

/** A repeatable option's values, in order. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** --ignore-frames REGEX (repeatable): each checked to be a regular expression. */
export function regexList(value: string, previous: string[] = []): string[] {
  try {
    new RegExp(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a regular expression`);
  }
  return [...previous, value];
}
