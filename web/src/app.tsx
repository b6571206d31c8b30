import { lazy, Suspense } from 'react';
import { Route, Routes } from 'react-router';
import { Loading } from './components/states';
import { CenterApp } from './center/center-app';

const ConsoleApp = lazy(() => import('./console/console-app'));

/** `/admin/…` is the operator console; everything else is the message center. */
export function App() {
  return (
    <Routes>
      <Route
        path="/admin/*"
        element={
          <Suspense
            fallback={
              <div className="page-center">
                <Loading />
              </div>
            }
          >
            <ConsoleApp />
          </Suspense>
        }
      />
      <Route path="/*" element={<CenterApp />} />
    </Routes>
  );
}
