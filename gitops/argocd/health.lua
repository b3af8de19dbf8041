-- Argo CD health of a Converge object (group converge.dev), read from the kstatus status
-- Converge writes: status.observedGeneration and the Ready, Reconciling and Stalled conditions.
-- Same verdicts as kstatus (so as Flux), plus Argo CD's Suspended while writes are held
-- (`suspend: true`, or ObserveOnly with differences).
-- Plain Lua 5.1, the dialect Argo CD runs.
local hs = { status = "Progressing", message = "Waiting for Converge to report status" }

local function condition(conditions, kind)
  for _, c in ipairs(conditions or {}) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function said(c)
  return c ~= nil and c.message ~= nil and c.message ~= ""
end

local suspended = obj.spec ~= nil and obj.spec.suspend == true
local status = obj.status
local generation = obj.metadata.generation
if status == nil or (generation ~= nil and status.observedGeneration ~= generation) then
  -- No status yet, or one that describes an older spec: nothing in it can be trusted.
  if generation ~= nil and status ~= nil then
    hs.message = "Waiting for Converge to observe generation " .. tostring(generation)
  end
  if suspended then
    hs.status = "Suspended"
  end
  return hs
end

local ready = condition(status.conditions, "Ready")
local reconciling = condition(status.conditions, "Reconciling")
local stalled = condition(status.conditions, "Stalled")
if said(ready) then
  hs.message = ready.message
elseif said(reconciling) then
  hs.message = reconciling.message
end

if stalled ~= nil and stalled.status == "True" then
  -- Needs a person even while suspended, so it outranks Suspended.
  hs.status = "Degraded"
  if said(stalled) then
    hs.message = stalled.message
  end
elseif suspended then
  hs.status = "Suspended"
elseif obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
elseif reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
elseif ready ~= nil and ready.reason == "Observed" then
  -- managementPolicy ObserveOnly and the platform differs: writes are held, as when suspended.
  hs.status = "Suspended"
end
-- Otherwise Ready is False or Unknown with nothing abnormal: kstatus reads that as InProgress.
return hs
