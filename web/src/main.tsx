import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from '@tanstack/react-router';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { whenSignedOut } from './api.ts';
import { router } from './router.tsx';
import { applyStoredTheme } from './theme.ts';
import './styles.css';

applyStoredTheme();

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      retry: (count, error) => count < 2 && !(error && 'status' in error && typeof error.status === 'number' && error.status >= 400 && error.status < 500),
      staleTime: 5_000,
      refetchOnWindowFocus: true,
    },
  },
});

// The session ended (expired, signed out elsewhere): back to sign-in, then back here.
whenSignedOut(() => {
  queryClient.clear();
  const here = window.location.pathname + window.location.search;
  if (!['/sign-in', '/setup', '/invite'].includes(window.location.pathname)) {
    void router.navigate({ to: '/sign-in', search: { next: here } });
  }
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} context={{ queryClient }} />
    </QueryClientProvider>
  </StrictMode>,
);
