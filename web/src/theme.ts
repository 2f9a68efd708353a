/** Light, dark, or the system's choice (the default), kept in this browser. */
export type ThemeChoice = 'light' | 'dark' | 'system';
const KEY = 'deskhand.theme';

export function storedTheme(): ThemeChoice {
  const value = localStorage.getItem(KEY);
  return value === 'light' || value === 'dark' ? value : 'system';
}

export function applyTheme(choice: ThemeChoice): void {
  if (choice === 'system') {
    localStorage.removeItem(KEY);
    delete document.documentElement.dataset['theme'];
  } else {
    localStorage.setItem(KEY, choice);
    document.documentElement.dataset['theme'] = choice;
  }
}

export function applyStoredTheme(): void {
  applyTheme(storedTheme());
}
